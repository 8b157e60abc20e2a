"""Port of pytorch/tutorials beginner_source/basics/saveloadrun_tutorial.py: a state dict saved
and loaded into a new model, then the whole model saved and loaded (vgg16 is the stand-in of
tests/ports/standins: its classifier head without the convolutions)."""
import tinygrad_lstm as torch
import standins.models as models

model = models.vgg16(weights='IMAGENET1K_V1')
torch.save(model.state_dict(), 'model_weights.pth')

model = models.vgg16() # we do not specify ``weights``, i.e. create untrained model
model.load_state_dict(torch.load('model_weights.pth', weights_only=True))
model.eval()

torch.save(model, 'model.pth')

model = torch.load('model.pth', weights_only=False)

# the older version of the tutorial: `pretrained=True` and torch.load's default weights_only
model = models.vgg16(pretrained=True)
torch.save(model.state_dict(), 'model_weights.pth')
model = models.vgg16()
model.load_state_dict(torch.load('model_weights.pth'))
model.eval()
torch.save(model, 'model.pth')
model = torch.load('model.pth', weights_only=False)
